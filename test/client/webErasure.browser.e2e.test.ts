/**
 * Erasure in the web app, in Debian's Chromium (playwright-core) against a real server
 * process in development mode: the marketplace erases the borrower through the internal
 * API (`POST /api/internal/users/:userId/erasure`); the lender's open conversation shows
 * each of the borrower's messages as "Message deleted" live (the `erased` frame) and again
 * after a reload (history), with the lender's own messages untouched; the borrower's
 * window is signed out (close code 4003). Skipped, with one line saying so, where
 * /usr/bin/chromium is absent.
 */
import { chatAbout, demoPost, describeInChromium, messageHistory as history, openConversationWith, sendAndSee, useWebApp } from '../support/browser';
import { TEST_INTERNAL_TOKEN } from '../support/tokens';

const drill = demoPost('demo-drill');

describeInChromium('erasure browser e2e')('an erased user’s messages in the web app', () => {
  const app = useWebApp();

  it('shows each of the erased user’s messages as "Message deleted", live and after a reload; the erased user is signed out', async () => {
    const lender = await app.signedIn(drill.ownerId);
    const borrower = await app.signedIn('erin');
    await chatAbout(borrower, drill.title);
    await sendAndSee(borrower, 'I live at 12 Elm Street, flat 3');
    await sendAndSee(borrower, 'call me on 010-2222-3333');
    await openConversationWith(lender, 'erin');
    await history(lender).getByText('call me on 010-2222-3333').waitFor();
    await sendAndSee(lender, 'Thanks, see you Saturday');

    const asked = await fetch(`${app.url}/api/internal/users/erin/erasure`, { method: 'POST', headers: { authorization: `Bearer ${TEST_INTERNAL_TOKEN}` } });
    expect(asked.status).toBe(202);

    // Live: the borrower's two messages become "Message deleted"; their words are gone; the lender's stays.
    const deleted = history(lender).getByText('Message deleted', { exact: true });
    await deleted.nth(1).waitFor({ timeout: 30_000 });
    expect(await deleted.count()).toBe(2);
    expect(await history(lender).getByText(/Elm Street|010-2222-3333/).count()).toBe(0);
    expect(await history(lender).getByText('Thanks, see you Saturday').count()).toBe(1);

    // From history, after a reload: the same, in the same places (seq kept).
    await lender.reload();
    await history(lender).getByText('Thanks, see you Saturday').waitFor();
    const items = history(lender).locator('li:not(.day)');
    expect(await items.allTextContents()).toEqual([
      expect.stringMatching(/^Message deleted/),
      expect.stringMatching(/^Message deleted/),
      expect.stringMatching(/^Thanks, see you Saturday/),
    ]);
    expect(await history(lender).getByText(/Elm Street|010-2222-3333/).count()).toBe(0);

    // The erased user's window: the connection closed with 4003, shown as signed out.
    await borrower.getByRole('status', { name: 'Connection' }).filter({ hasText: 'Account deleted: signed out' }).waitFor({ timeout: 30_000 });
  }, 120_000);
});
