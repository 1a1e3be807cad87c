/**
 * Trust and safety in the web app, in Debian's Chromium (playwright-core) against a real
 * server process in development mode: the borrower sees a warning under the lender's
 * message that asks to move to KakaoTalk, reports it, the moderator (`mod`) hides it from
 * the Reports page, and both chat windows show it hidden. Skipped, with one line saying so,
 * where /usr/bin/chromium is absent.
 */
import type { Locator } from 'playwright-core';
import { chatAbout, demoPost, describeInChromium, messageHistory as history, openConversationWith, sendAndSee, typeAndSend as send, useWebApp } from '../support/browser';
import { TEST_INTERNAL_TOKEN } from '../support/tokens';

const drill = demoPost('demo-drill');
const tent = demoPost('demo-tent');

describeInChromium('moderation browser e2e')('reporting and moderating in the web app', () => {
  const app = useWebApp();
  /** The recipient reports a message as a scam from its bubble. */
  const reportAsScam = async (message: Locator) => {
    await message.getByRole('button', { name: 'Report' }).click();
    await message.getByLabel('Reason').selectOption('scam');
    await message.getByRole('button', { name: 'Send report' }).click();
    await message.getByText('Reported').waitFor();
  };

  it('warns the borrower, takes the report, and shows the moderator’s hide in both windows', async () => {
    const lender = await app.signedIn(drill.ownerId);
    const borrower = await app.signedIn('bora');
    await chatAbout(borrower, drill.title);
    await sendAndSee(borrower, 'Is the drill free on Saturday?');
    // The lender's list, read after the message is stored.
    await openConversationWith(lender, 'bora');
    await history(lender).getByText('Is the drill free on Saturday?').waitFor();
    const scam = '카톡으로 연락주세요 010-1234-5678';
    await send(lender, scam);

    // The recipient sees the warning under it; the sender does not, and has no Report on their own message.
    const theirs = history(borrower).getByRole('listitem').filter({ hasText: scam });
    await theirs.getByRole('note').waitFor();
    await history(lender).getByText(scam).waitFor();
    expect(await history(lender).getByRole('listitem').filter({ hasText: scam }).getByRole('note').count()).toBe(0);
    expect(await history(lender).getByRole('listitem').filter({ hasText: scam }).getByRole('button', { name: 'Report' }).count()).toBe(0);

    await reportAsScam(theirs);

    // The moderator signs in as `mod` (development mode) and resolves it from the Reports page.
    const moderator = await app.signedIn('mod');
    await moderator.getByRole('link', { name: 'Reports' }).click();
    await moderator.getByRole('heading', { name: 'Reports' }).waitFor();
    await moderator.getByRole('button', { name: /scam: bora reported/ }).click();
    await moderator.getByRole('list', { name: 'Reported message in context' }).getByText(scam).waitFor();
    await moderator.getByRole('button', { name: 'Hide message' }).click();
    await moderator.getByText('No open reports.').waitFor();

    for (const p of [borrower, lender]) await history(p).getByText('This message was hidden by a moderator.').waitFor();
    expect(await history(borrower).getByText(scam).count()).toBe(0);
    // And after a reload.
    await borrower.reload();
    await history(borrower).getByText('This message was hidden by a moderator.').waitFor();
    expect(await history(borrower).getByText('Is the drill free on Saturday?').count()).toBe(1);
  }, 90_000);

  it('suspends the sender from the Reports page (their sends refused, reads kept) and shows a marketplace notice in both windows', async () => {
    const lender = await app.signedIn(tent.ownerId);
    const borrower = await app.signedIn('cato');
    await chatAbout(borrower, tent.title);
    await sendAndSee(borrower, 'Is the tent still free next weekend?');
    const roomId = /#\/rooms\/([0-9a-f-]{36})$/.exec(borrower.url())?.[1] as string;
    expect(roomId).toMatch(/^[0-9a-f-]{36}$/);
    await openConversationWith(lender, 'cato');
    await history(lender).getByText('Is the tent still free next weekend?').waitFor();
    const scam = 'Send the deposit first to 계좌 110-123-456789';
    await send(lender, scam);

    const theirs = history(borrower).getByRole('listitem').filter({ hasText: scam });
    await theirs.getByRole('note').waitFor();
    await reportAsScam(theirs);

    const moderator = await app.signedIn('mod');
    await moderator.getByRole('link', { name: 'Reports' }).click();
    await moderator.getByRole('button', { name: /scam: cato reported/ }).click();
    await moderator.getByRole('list', { name: 'Reported message in context' }).getByText(scam).waitFor();
    await moderator.getByRole('button', { name: 'Suspend sender' }).click();
    await moderator.getByText('No open reports.').waitFor();

    // The suspended lender still reads the room, but a new message is refused as suspended.
    await send(lender, 'still there?');
    await history(lender).getByRole('listitem', { name: 'Not sent' }).filter({ hasText: 'still there?' }).getByText(/suspended/).waitFor();
    expect(await history(borrower).getByText('still there?').count()).toBe(0);
    await history(lender).getByText('Is the tent still free next weekend?').waitFor();

    // The marketplace posts a notice into the room through the internal API: both windows show it.
    const notice = 'Booking confirmed for Saturday';
    const posted = await fetch(`${app.url}/api/internal/rooms/${roomId}/notices`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_INTERNAL_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ clientNoticeId: 'booking-1', text: notice }),
    });
    expect(posted.status).toBe(201);
    for (const p of [borrower, lender]) await history(p).getByRole('listitem', { name: 'Notice from the marketplace' }).filter({ hasText: notice }).waitFor();
  }, 90_000);
});
