import type { SecureContextOptions, TlsOptions } from 'node:tls';

/**
 * TLS as served: TLS 1.2 and 1.3 only, and for TLS 1.2 only ECDHE key exchange with
 * AEAD ciphers (forward secret; no RSA key exchange, no CBC, no SHA-1 MACs), as in
 * Mozilla's "intermediate" profile. TLS 1.3's suites are all forward secret; they are
 * listed so the whole list is readable in one place.
 */
export const TLS_CIPHERS = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

export function tlsOptions(material: Pick<SecureContextOptions, 'cert' | 'key'>): TlsOptions {
  return { ...material, minVersion: 'TLSv1.2', ciphers: TLS_CIPHERS, honorCipherOrder: true };
}

/** How long a client may take over its request; tests shorten them instead of waiting. */
export interface HttpTuning {
  /**
   * Until the request's headers are complete (an upgrade's too), then 408. Node's
   * default is 60 s, checked every 30 s: a slow upgrade was held 88 s.
   */
  headersTimeoutMs: number;
  /** Until the whole request (body included) has arrived, then 408. */
  requestTimeoutMs: number;
  /** How often those two are checked. */
  checkIntervalMs: number;
}

export const defaultHttpTuning: HttpTuning = { headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, checkIntervalMs: 1_000 };

export function timeoutOptions(tuning: HttpTuning) {
  return {
    headersTimeout: tuning.headersTimeoutMs,
    requestTimeout: tuning.requestTimeoutMs,
    connectionsCheckingInterval: tuning.checkIntervalMs,
  };
}
