module.exports = async function globalTeardown() {
  for (const container of globalThis.__chatContainers ?? []) await container.stop();
};
