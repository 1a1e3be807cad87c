/**
 * Integration and end-to-end tests run real servers, databases and browsers on a CI
 * machine of two shared cores, where a scheduling hiccup can shed an append (the store
 * answers `unavailable` past its queue deadline) or delay a ping past its window. Such a
 * test is run again, up to twice, and every failed attempt is printed, so a flaky test
 * stays visible in the log; a test that fails three times fails the run. Unit tests are
 * never retried. docs/testing.md, "Retries".
 */
jest.retryTimes(2, { logErrorsBeforeRetry: true });
