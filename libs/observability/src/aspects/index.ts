export * from './method-aspect';
export * from './method-aspects';
export * from './aspect.explorer';
export * from './aspect.interceptor';
