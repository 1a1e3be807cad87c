/** Every service identifier of the container, in one place. */
export const TYPES = {
  Config: Symbol.for('Config'),
  Logger: Symbol.for('Logger'),
  Clock: Symbol.for('Clock'),
  Ids: Symbol.for('Ids'),
  SqlDatabase: Symbol.for('SqlDatabase'),
  EventStore: Symbol.for('EventStore'),
  RoomCommands: Symbol.for('RoomCommands'),
  ChatQueries: Symbol.for('ChatQueries'),
  ProjectionRunner: Symbol.for('ProjectionRunner'),
  LiveFeed: Symbol.for('LiveFeed'),
  TokenVerifier: Symbol.for('TokenVerifier'),
  RoomDirectory: Symbol.for('RoomDirectory'),
  TypingSignals: Symbol.for('TypingSignals'),
  ExpirySweeper: Symbol.for('ExpirySweeper'),
  UserBudgets: Symbol.for('UserBudgets'),
} as const;
