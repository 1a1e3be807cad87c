import type { PostCommands } from '../../application/post/postCommands';
import type { RoomCommands } from '../../application/room/roomCommands';
import type { UserCommands } from '../../application/user/userCommands';

/**
 * The `command` label of `chat_commands_total` for each use case, written out: renaming a
 * method leaves its metric (and the dashboards and alerts on it) alone, and a new use case
 * does not compile until it has a label here (docs/operations.md lists them).
 */
export type CommandNames<T> = { readonly [K in keyof T as T[K] extends (...args: never[]) => unknown ? K : never]-?: string };

export const roomCommandNames: CommandNames<RoomCommands> = {
  openRoom: 'openRoom',
  sendMessage: 'sendMessage',
  postNotice: 'postNotice',
  reportMessage: 'reportMessage',
  resolveReport: 'resolveReport',
  markRead: 'markRead',
  block: 'block',
  unblock: 'unblock',
  reopenRoom: 'reopenRoom',
  expireRoom: 'expireRoom',
  elapseRetention: 'elapseRetention',
};

export const userCommandNames: CommandNames<UserCommands> = {
  suspend: 'suspend',
  reinstate: 'reinstate',
  requestErasure: 'requestErasure',
  completeErasure: 'completeErasure',
};

export const postCommandNames: CommandNames<PostCommands> = {
  upsertPost: 'upsertPost',
  loadPost: 'loadPost',
};
