/**
 * A refused read mark in the web app, in Debian's Chromium (playwright-core) against a real
 * server process: the borrower's page talks to the server through Playwright's WebSocket
 * route, which answers the page's first `read` frame itself with the `rate_limited` error
 * the server gives past the read budget (the frame never reaches the server). The mark is
 * sent again by itself, and the lender sees "Read" without the borrower doing anything
 * more. (Before, a refused mark was dropped: "Read" came only with the next message.)
 * Skipped, with one line saying so, where /usr/bin/chromium is absent.
 */
import type { Page } from 'playwright-core';
import { chatAbout, demoPost, describeInChromium, messageHistory as history, openConversationWith, sendAndSee, useWebApp } from '../support/browser';

const drill = demoPost('demo-drill');

describeInChromium('read mark browser e2e')('a refused read mark in the web app', () => {
  const app = useWebApp();

  it('sends a refused read mark again, so the other side sees "Read" without another message', async () => {
    const lender = await app.signedIn(drill.ownerId);
    const reads: Array<{ upToSeq: number; refused: boolean }> = [];
    let refusedOne = false;
    // The borrower's page talks to the server through this route, which refuses its first mark of seq 2.
    const refuseFirstReadMark = (p: Page) =>
      p.routeWebSocket(/\/chat$/, (ws) => {
        const toServer = ws.connectToServer();
        ws.onMessage((message) => {
          const frame = JSON.parse(String(message)) as { type: string; id?: string; upToSeq?: number };
          if (frame.type === 'read' && !refusedOne && (frame.upToSeq ?? 0) >= 2) {
            refusedOne = true;
            reads.push({ upToSeq: frame.upToSeq ?? 0, refused: true });
            ws.send(JSON.stringify({ type: 'error', code: 'rate_limited', message: 'too many read marks: slow down', ref: frame.id ?? 'read' }));
            return;
          }
          if (frame.type === 'read') reads.push({ upToSeq: frame.upToSeq ?? 0, refused: false });
          toServer.send(message);
        });
      });
    const borrower = await app.signedIn('rhea', { setUp: refuseFirstReadMark });
    await chatAbout(borrower, drill.title);
    await sendAndSee(borrower, 'Is the drill free on Sunday?');
    await openConversationWith(lender, 'rhea');
    await history(lender).getByText('Is the drill free on Sunday?').waitFor();

    // The lender answers; the borrower's page, on screen, marks seq 2 read: refused once, then sent again.
    await sendAndSee(lender, 'Yes, from 9 on');
    await history(borrower).getByText('Yes, from 9 on').waitFor();
    await lender.getByText('· Read').waitFor({ timeout: 20_000 });
    expect(reads.filter((r) => r.upToSeq >= 2)).toEqual([
      { upToSeq: 2, refused: true },
      { upToSeq: 2, refused: false },
    ]);
  }, 90_000);
});
