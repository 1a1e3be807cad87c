import { loadConfig } from '../../../src/config';
import { describeStorage } from '../../../src/infrastructure/sql/openDatabase';

describe('the start-up log names where the data is, plainly', () => {
  it('says embedded PostgreSQL and its directory when there is no DATABASE_URL', () => {
    expect(describeStorage(loadConfig({ DATA_DIR: '/var/lib/chat' }))).toBe('events and read models in embedded PostgreSQL (PGlite) in /var/lib/chat');
  });

  it('names the server and database, never the password', () => {
    const text = describeStorage(loadConfig({ DATABASE_URL: 'postgres://chat:s3cret-pw@db.internal:5432/chat' }));
    expect(text).toBe('events and read models in PostgreSQL server db.internal:5432/chat');
    expect(text).not.toContain('s3cret');
  });

  it('says the events are in EventStoreDB when they are', () => {
    const config = loadConfig({
      DATABASE_URL: 'postgres://chat:pw@db:5432/chat',
      EVENT_STORE: 'eventstoredb',
      EVENTSTORE_CONNECTION_STRING: 'esdb://admin:changeit@esdb:2113?tls=false',
    });
    expect(describeStorage(config)).toBe('events in EventStoreDB (esdb:2113), read models in PostgreSQL server db:5432/chat');
  });
});
