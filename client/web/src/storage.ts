/**
 * The page's storage, or memory when the browser refuses it: in a cross-site iframe
 * (the marketplace embedding) Chromium denies `localStorage` to third-party documents, and
 * even touching the property throws. The app then works, and forgets on reload.
 */
function pick(name: 'localStorage' | 'sessionStorage'): Pick<Storage, 'getItem' | 'setItem' | 'removeItem'> {
  try {
    const storage = window[name];
    storage.getItem('rental-chat:probe');
    return storage;
  } catch {
    const memory = new Map<string, string>();
    return {
      getItem: (key) => memory.get(key) ?? null,
      setItem: (key, value) => void memory.set(key, value),
      removeItem: (key) => void memory.delete(key),
    };
  }
}

export const local = pick('localStorage');
export const session = pick('sessionStorage');
