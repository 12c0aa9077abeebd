import createError from '@fastify/error'

// Every error code of the package, defined once. The prefix is FST_COLLAB_.

// --- upgrade ---------------------------------------------------------------

// --- collab ----------------------------------------------------------------

// --- storage ---------------------------------------------------------------
