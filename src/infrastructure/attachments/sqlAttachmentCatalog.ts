import type { AttachmentCatalog, AttachmentRecord, ClaimOutcome, Rendition } from '../../application/ports/attachments';
import type { SqlExecutor } from '../sql/sqlDatabase';

interface Row {
  attachment_id: string;
  room_id: string;
  uploader_id: string;
  image: Rendition | string;
  thumbnail: Rendition | string;
  uploaded_at: string;
  sent_client_message_id: string | null;
}

const columns = `attachment_id::text, room_id, uploader_id, image, thumbnail,
  to_char(uploaded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS uploaded_at, sent_client_message_id`;

/** jsonb comes back parsed from pg and PGlite alike; a string is parsed all the same. */
const rendition = (value: Rendition | string): Rendition => (typeof value === 'string' ? (JSON.parse(value) as Rendition) : value);

const toRecord = (row: Row): AttachmentRecord => ({
  attachmentId: row.attachment_id,
  roomId: row.room_id,
  uploaderId: row.uploader_id,
  image: rendition(row.image),
  thumbnail: rendition(row.thumbnail),
  uploadedAt: row.uploaded_at,
  sentBy: row.sent_client_message_id === null ? null : { clientMessageId: row.sent_client_message_id },
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The attachment catalog in PostgreSQL (or PGlite), whichever store keeps the bytes. */
export class SqlAttachmentCatalog implements AttachmentCatalog {
  constructor(private readonly db: SqlExecutor) {}

  async record(a: AttachmentRecord): Promise<void> {
    await this.db.query(
      `INSERT INTO attachments (attachment_id, room_id, uploader_id, image, thumbnail, uploaded_at, sent_client_message_id)
       VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6, $7)`,
      [a.attachmentId, a.roomId, a.uploaderId, JSON.stringify(a.image), JSON.stringify(a.thumbnail), a.uploadedAt, a.sentBy?.clientMessageId ?? null],
    );
  }

  async get(attachmentId: string): Promise<AttachmentRecord | null> {
    if (!UUID.test(attachmentId)) return null;
    const { rows } = await this.db.query<Row>(`SELECT ${columns} FROM attachments WHERE attachment_id = $1`, [attachmentId]);
    return rows[0] === undefined ? null : toRecord(rows[0]);
  }

  async claim(attachmentId: string, roomId: string, senderId: string, clientMessageId: string): Promise<ClaimOutcome> {
    if (!UUID.test(attachmentId)) return 'not_found';
    // One statement: of two sends racing for one attachment, one sets it and the other sees it set.
    const { rows } = await this.db.query<{ sent_client_message_id: string }>(
      `UPDATE attachments SET sent_client_message_id = $4
        WHERE attachment_id = $1 AND room_id = $2 AND uploader_id = $3
          AND (sent_client_message_id IS NULL OR sent_client_message_id = $4)
        RETURNING sent_client_message_id`,
      [attachmentId, roomId, senderId, clientMessageId],
    );
    if (rows.length > 0) return 'claimed';
    const existing = await this.get(attachmentId);
    if (existing === null || existing.roomId !== roomId || existing.uploaderId !== senderId) return 'not_found';
    return 'already_sent';
  }

  async unsentBefore(before: Date, limit: number): Promise<AttachmentRecord[]> {
    const { rows } = await this.db.query<Row>(
      `SELECT ${columns} FROM attachments WHERE sent_client_message_id IS NULL AND uploaded_at < $1 ORDER BY uploaded_at LIMIT $2`,
      [before.toISOString(), limit],
    );
    return rows.map(toRecord);
  }

  async unclaim(attachmentId: string, senderId: string, clientMessageId: string): Promise<void> {
    if (!UUID.test(attachmentId)) return;
    await this.db.query(
      `UPDATE attachments SET sent_client_message_id = NULL
        WHERE attachment_id = $1 AND uploader_id = $2 AND sent_client_message_id = $3`,
      [attachmentId, senderId, clientMessageId],
    );
  }

  async sentIn(roomId: string): Promise<AttachmentRecord[]> {
    const { rows } = await this.db.query<Row>(`SELECT ${columns} FROM attachments WHERE room_id = $1 AND sent_client_message_id IS NOT NULL`, [roomId]);
    return rows.map(toRecord);
  }

  async uploadedBy(uploaderId: string): Promise<AttachmentRecord[]> {
    const { rows } = await this.db.query<Row>(`SELECT ${columns} FROM attachments WHERE uploader_id = $1`, [uploaderId]);
    return rows.map(toRecord);
  }

  async remove(attachmentId: string): Promise<void> {
    await this.db.query(`DELETE FROM attachments WHERE attachment_id = $1`, [attachmentId]);
  }
}
