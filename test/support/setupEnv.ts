// Tests log at warn and above only, so a failing run shows what matters.
process.env.LOG_LEVEL ??= 'warn';
