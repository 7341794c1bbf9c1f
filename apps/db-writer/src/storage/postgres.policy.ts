/** Name of the resilience policy protecting the database (see the module's policy catalogue). */
export const POSTGRES_POLICY = 'postgres';
