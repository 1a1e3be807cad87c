/**
 * Safety hints: what a message's text carries that scams use to move a deal off the
 * marketplace, where the marketplace can no longer help — a phone number, a bank account,
 * a link to an outside messenger, or the words people use for those. The recipient's app
 * shows a short warning under such a message.
 *
 * Precision matters as much as recall: prices, dates, times, seq numbers and post ids are
 * ordinary chat on a rental marketplace and must not be flagged. So every number rule is
 * anchored on what only contact details look like (a mobile prefix, a leading `+`, dashed
 * groups of an account's length that are not a date), never on "many digits". The table
 * of examples in test/domain/safety/safetyHints.unit.test.ts is the specification.
 *
 * Pure: a function of the text alone, so the history and the live frames agree.
 */

/** The hint the public message carries: one kind, as the recipient needs one warning. */
export type SafetyHint = 'contact_info';

/** Which rule found contact details: the finer reason behind `contact_info` (for tests and docs). */
export type ContactInfoKind = 'phone_number' | 'bank_account' | 'email' | 'messenger_link' | 'messenger_word' | 'payment_word';

/** Digits not glued to other digits, letters or dashes on either side (Korean letters are not `\w`). */
const BEFORE = String.raw`(?<![\w+\-.,])`;
const AFTER = String.raw`(?![\w\-]|\.\d)`;

const phonePatterns: readonly RegExp[] = [
  // Korean mobile numbers: 010-1234-5678, 010 1234 5678, 010.1234.5678, 01012345678 (011, 016–019 too).
  new RegExp(`${BEFORE}01[016789][-. ]?\\d{3,4}[-. ]?\\d{4}${AFTER}`),
  // Korean landlines: 02-123-4567, 031-123-4567, 0505-123-4567.
  new RegExp(`${BEFORE}0(?:2|[3-6][1-5]|50\\d|70|80)-\\d{3,4}-\\d{4}${AFTER}`),
  // International form: a leading + and a country code, then 7–14 more digits in groups.
  new RegExp(`(?<![\\w+])\\+\\d{1,3}(?:[-. ]?\\(?\\d{1,4}\\)?){2,5}${AFTER}`),
  // North American form: (415) 555-0132, 415-555-0132, 415.555.0132.
  new RegExp(`${BEFORE}(?:\\(\\d{3}\\) ?|\\d{3}[-.])\\d{3}[-.]\\d{4}${AFTER}`),
];

/**
 * Korean bank accounts are written in dashed groups (110-123-456789, 1002-123-456789,
 * 352-1234-5678-93, 123456-01-234567): 3–4 groups, 10–14 digits in all. A date written
 * with dashes (2026-12-07) has 8 digits; a run of two dates is refused by its year.
 */
const accountPattern = new RegExp(`${BEFORE}(?!(?:19|20)\\d{2}-[01]?\\d-)\\d{2,6}(?:-\\d{2,6}){2,3}${AFTER}`, 'g');

const emailPattern = /(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/;

/** Outside messengers' invitation and profile links. */
const messengerLinkPattern =
  /(?<![\w.-])(?:open\.kakao\.com|pf\.kakao\.com|qr\.kakao\.com|t\.me|telegram\.me|telegram\.dog|wa\.me|chat\.whatsapp\.com|api\.whatsapp\.com|line\.me|lin\.ee)(?:\/|(?![\w.-]))/i;

/**
 * The names people use for the messengers, in Korean and English. Bare "line" and
 * "signal" are ordinary English words and are left out; LINE counts with an id.
 */
const messengerWordPattern =
  /카톡|카카오톡|카카오\s*(?:아이디|id)|오픈\s*채팅|오픈톡|텔레그램|텔레\s*(?:아이디|id)|텔레방|왓츠앱|위챗|라인\s*(?:아이디|id)|\b(?:kakao\s*talk|kakaotalk|kakao\s*id|katalk|telegram|whats\s*app|wechat|line\s*id)\b/i;

/**
 * Paying outside the platform: "계좌" (bank account), "입금" (paying into one), "송금"
 * (remittance), "무통장" (bank transfer without a card), and the English counterparts. Bare
 * "deposit" is left out: on a rental marketplace it is the normal word for a security deposit.
 */
const paymentWordPattern =
  /계좌|입금|송금|무통장|\b(?:bank\s+account|account\s+(?:number|no\.?|#)|bank\s+transfer|wire\s+transfer|wire\s+(?:the\s+|me\s+)?(?:money|payment|funds)|transfer\s+(?:the\s+)?(?:money|payment|funds)\s+to|deposit\s+(?:it\s+|the\s+money\s+)?(?:in|into|to)\s+my\s+account)\b/i;

/** Every kind of contact detail found in `text`, in a fixed order, each once. */
export function findContactInfo(text: string): ContactInfoKind[] {
  const found: ContactInfoKind[] = [];
  if (phonePatterns.some((pattern) => phoneLike(pattern, text))) found.push('phone_number');
  if (hasAccountNumber(text)) found.push('bank_account');
  if (emailPattern.test(text)) found.push('email');
  if (messengerLinkPattern.test(text)) found.push('messenger_link');
  if (messengerWordPattern.test(text)) found.push('messenger_word');
  if (paymentWordPattern.test(text)) found.push('payment_word');
  return found;
}

/** The hints for a message's text: `["contact_info"]` when it carries contact details, else none. */
export function safetyHints(text: string): SafetyHint[] {
  return findContactInfo(text).length > 0 ? ['contact_info'] : [];
}

/** A phone match counts when it has a phone's number of digits (8–15, as E.164 allows). */
function phoneLike(pattern: RegExp, text: string): boolean {
  const global = new RegExp(pattern.source, 'g');
  for (const match of text.matchAll(global)) {
    const digits = match[0].replace(/\D/g, '').length;
    if (digits >= 8 && digits <= 15) return true;
  }
  return false;
}

function hasAccountNumber(text: string): boolean {
  for (const match of text.matchAll(accountPattern)) {
    const digits = match[0].replace(/\D/g, '').length;
    if (digits >= 10 && digits <= 14) return true;
  }
  return false;
}
