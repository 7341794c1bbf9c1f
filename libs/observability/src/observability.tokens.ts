/** Injection token of the running app's name (`generator`, `filter`, ...). */
export const APP_NAME = Symbol('APP_NAME');
