/**
 * The safety hints' specification, as a table: what a recipient is warned about (contact
 * details that move a deal off the marketplace) and what is ordinary chat that must stay
 * unmarked (prices, dates, times, seq numbers, post ids). Korean and English.
 */
import { findContactInfo, safetyHints, type ContactInfoKind } from '../../../src/domain/safety/safetyHints';

const flagged: [text: string, kind: ContactInfoKind][] = [
  // Korean phone numbers
  ['제 번호 010-1234-5678 로 연락주세요', 'phone_number'],
  ['010 1234 5678', 'phone_number'],
  ['010.1234.5678으로 문자 주세요', 'phone_number'],
  ['01012345678', 'phone_number'],
  ['연락처:011-123-4567', 'phone_number'],
  ['사무실 02-123-4567 입니다', 'phone_number'],
  ['031-987-6543로 전화주세요', 'phone_number'],
  // International forms
  ['+82 10-1234-5678', 'phone_number'],
  ['+82-10-1234-5678 whatsapp me', 'phone_number'],
  ['+821012345678', 'phone_number'],
  ['Call me at +1 (415) 555-0132', 'phone_number'],
  ['my number is 415-555-0132', 'phone_number'],
  ['text (415) 555-0132 tonight', 'phone_number'],
  ['+44 20 7946 0958', 'phone_number'],
  ['+49 30 1234567', 'phone_number'],
  // Bank accounts
  ['신한 110-123-456789 김철수', 'bank_account'],
  ['우리 1002-123-456789', 'bank_account'],
  ['농협 352-1234-5678-93 으로', 'bank_account'],
  ['KB 123456-01-234567', 'bank_account'],
  // E-mail
  ['email me: lena.kim@example.com', 'email'],
  // Outside messengers' links
  ['https://open.kakao.com/o/sAbCdEf 여기로 오세요', 'messenger_link'],
  ['open.kakao.com/o/gXyZ', 'messenger_link'],
  ['t.me/lenders_deal', 'messenger_link'],
  ['https://t.me/+AbCdEf', 'messenger_link'],
  ['wa.me/821012345678', 'messenger_link'],
  ['https://line.me/ti/p/abcd', 'messenger_link'],
  ['chat.whatsapp.com/Invite123', 'messenger_link'],
  // The words for them
  ['카톡으로 얘기해요', 'messenger_word'],
  ['카카오톡 아이디 알려드릴게요', 'messenger_word'],
  ['오픈채팅방 들어오세요', 'messenger_word'],
  ['텔레그램으로 연락 주세요', 'messenger_word'],
  ['라인 아이디 있어요?', 'messenger_word'],
  ["Let's continue on KakaoTalk", 'messenger_word'],
  ['add me on telegram', 'messenger_word'],
  ['message me on WhatsApp', 'messenger_word'],
  ['my LINE ID is lena88', 'messenger_word'],
  // Paying outside the platform
  ['계좌로 보내주시면 됩니다', 'payment_word'],
  ['선입금 부탁드려요', 'payment_word'],
  ['먼저 입금해 주세요', 'payment_word'],
  ['송금 확인 후 보내드릴게요', 'payment_word'],
  ['무통장으로 해주세요', 'payment_word'],
  ['send it by bank transfer please', 'payment_word'],
  ["what's your account number?", 'payment_word'],
  ['please wire the money first', 'payment_word'],
  ['deposit it into my account', 'payment_word'],
];

const ordinary: string[] = [
  // Prices
  '50,000원이에요',
  '하루 10,000원, 일주일 50,000원',
  '1,200,000원짜리 카메라',
  '10,000-20,000원 사이로 생각해요',
  'It is $1,200 for the week',
  '€45.50 a day',
  '100,000 won per day',
  '3일에 30,000원씩',
  // Dates and times
  '2026-12-07에 빌릴게요',
  '2026-12-07-2026-12-09 가능할까요?',
  '2026.12.07 오후 2시',
  '12/7 14:30에 봬요',
  'pick up 10:30-11:00 on 2026-12-07',
  '2026-12-07T16:03:15Z',
  '토요일 오후 3시 30분',
  'Saturday at 3pm',
  // Sequence numbers, post and room ids, counts
  'seq 1024 부터 다시 보여요',
  'message #4521',
  'post-12345 글 보고 연락드려요',
  'drill-1',
  'post id 1234567890',
  'room 3f2a9c1e-1b2c-4d5e-8f90-123456789abc',
  'order 2026120700123',
  '1박 2일, 2-3명',
  'size 230-240mm',
  'version 1.2.3',
  // Words that look close but are ordinary
  'The deposit is $50, refunded on return',
  '보증금 5만원 있어요',
  'Line up at the door',
  'the phone charger is included',
  '주소는 서울시 강남구 테헤란로 123',
  '택배로 보내드릴게요',
  'Thanks! See you on Saturday',
  '네 감사합니다 :)',
  '계란 10개 들어있어요',
  'the tent fits 4-6 people',
  'It weighs 2.5 kg, 30x40x50 cm',
  'Rated 4.8/5 by 120 renters',
  '20% off for 7+ days',
  'Room 1203, building 2',
  '예약번호 20261207-0042',
  'Is it free 12/24-12/26?',
];

describe('safety hints', () => {
  it('keeps a table of at least 40 examples of each side', () => {
    expect(flagged.length).toBeGreaterThanOrEqual(40);
    expect(ordinary.length).toBeGreaterThanOrEqual(40);
  });

  it.each(flagged)('warns about %j (%s)', (text, kind) => {
    expect(findContactInfo(text)).toContain(kind);
    expect(safetyHints(text)).toEqual(['contact_info']);
  });

  it.each(ordinary.map((text) => [text]))('leaves %j unmarked', (text) => {
    expect(findContactInfo(text)).toEqual([]);
    expect(safetyHints(text)).toEqual([]);
  });
});
