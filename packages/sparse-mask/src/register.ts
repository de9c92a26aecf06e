/** Registers this family's methods into the default registry of @peftjs/core (none yet). */
export {};
