export { type ApiOptions, buildApi } from './app.ts';
export { bearerTokenMatches, isLoopbackHost } from './auth.ts';
export { type ServeOptions, startApiServer } from './serve.ts';
