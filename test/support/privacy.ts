import { DataKeys } from '../../src/application/privacy/dataKeys';
import { KeyRing } from '../../src/application/privacy/keyRing';
import { EventOpener, OpenedEventStore } from '../../src/application/privacy/openedEventStore';
import type { EventStore } from '../../src/application/ports/eventStore';
import { keyEncryptionKeyId } from '../../src/config';
import { loadErasedUsers } from '../../src/infrastructure/privacy/erasedUsersTable';
import { SqlDataKeyStore } from '../../src/infrastructure/privacy/sqlDataKeyStore';
import type { SqlDatabase } from '../../src/infrastructure/sql/sqlDatabase';
import { TEST_DATA_KEY_ENCRYPTION_KEY } from './tokens';

/** The data keys of a test server's database, unwrapped with the test key-encryption key. */
export function testDataKeys(db: SqlDatabase): DataKeys {
  const key = Buffer.from(TEST_DATA_KEY_ENCRYPTION_KEY, 'base64');
  return new DataKeys(new SqlDataKeyStore(db), new KeyRing([{ id: keyEncryptionKeyId(key), key }]));
}

/**
 * A test server's event store as the service reads it (message bodies opened, erased ones
 * erased): what a projection or a command handler outside the server must read.
 */
export async function openedTestStore(db: SqlDatabase, stored: EventStore): Promise<EventStore> {
  return new OpenedEventStore(stored, new EventOpener(testDataKeys(db), await loadErasedUsers(db)));
}
