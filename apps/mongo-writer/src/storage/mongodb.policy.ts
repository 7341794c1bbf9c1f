/** Name of the resilience policy protecting the database (see the module's policy catalogue). */
export const MONGODB_POLICY = 'mongodb';
