import { InvalidCommandError, MAX_ATTACHMENTS_PER_MESSAGE, roomDecider, type MessageAttachment } from '../../../src/domain/room';
import { aMessageSent, aRoomOpened, aSendMessage, iso, MINUTE } from '../../support/builders';
import { given } from '../../support/given';

const aPhoto = (id: string): MessageAttachment => ({
  attachmentId: id,
  contentType: 'image/jpeg',
  bytes: 1234,
  width: 640,
  height: 480,
  sha256: 'a'.repeat(64),
  thumbnail: { contentType: 'image/jpeg', bytes: 200, width: 320, height: 240, sha256: 'b'.repeat(64) },
});

describe('a message with photos', () => {
  it('records the photos with the message, and may have no words', () => {
    given(roomDecider, [aRoomOpened()])
      .when(aSendMessage({ body: '', attachments: [aPhoto('p1'), aPhoto('p2')] }))
      .then([aMessageSent({ body: '', clientMessageId: 'client-1', messageId: 'msg-1', sentAt: iso(MINUTE), attachments: [aPhoto('p1'), aPhoto('p2')] })]);
  });

  it('records a message without photos as before, with no attachments field', () => {
    given(roomDecider, [aRoomOpened()])
      .when(aSendMessage({ attachments: [] }))
      .then([aMessageSent({ body: 'Is it free on Saturday?', clientMessageId: 'client-1', messageId: 'msg-1', sentAt: iso(MINUTE) })]);
  });

  it('needs words or a photo', () => {
    given(roomDecider, [aRoomOpened()]).when(aSendMessage({ body: '' })).thenThrows(InvalidCommandError, { field: 'body' });
  });

  it(`takes at most ${MAX_ATTACHMENTS_PER_MESSAGE} photos, each once`, () => {
    const many = Array.from({ length: MAX_ATTACHMENTS_PER_MESSAGE + 1 }, (_, i) => aPhoto(`p${i}`));
    given(roomDecider, [aRoomOpened()]).when(aSendMessage({ attachments: many })).thenThrows(InvalidCommandError, { field: 'attachments' });
    given(roomDecider, [aRoomOpened()])
      .when(aSendMessage({ attachments: [aPhoto('p1'), aPhoto('p1')] }))
      .thenThrows(InvalidCommandError, { field: 'attachments' });
  });
});
