import { useState, type FormEvent } from 'react';

/** Development mode's sign-in: any user name (try lena or minho, the demo lenders). */
export function SignIn({ onSignIn, error }: { onSignIn: (userId: string) => Promise<void>; error: string | null }) {
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (name.trim() === '') return;
    setBusy(true);
    await onSignIn(name.trim());
    setBusy(false);
  };
  return (
    <main className="signin">
      <h1>Rental chat</h1>
      <p>Demo sign-in. The demo lenders are <strong>lena</strong> and <strong>minho</strong>; any other name is a borrower.</p>
      <form onSubmit={submit}>
        <label htmlFor="user-name">User name</label>
        <input id="user-name" name="userId" autoComplete="username" value={name} onChange={(e) => setName(e.target.value)} maxLength={64} required />
        <button type="submit" disabled={busy}>
          Sign in
        </button>
      </form>
      {error !== null && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
    </main>
  );
}
