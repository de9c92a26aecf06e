/**
 * The schema library method configs are written in, re-exported so a plugin needs no dependency
 * besides @peftjs/core (and so its schemas and core's come from one zod instance).
 */
export { z } from 'zod';
