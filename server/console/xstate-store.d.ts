/** Types of @xstate/store's browser build, served from node_modules as /console/xstate-store.js. */
export { createStore } from '@xstate/store';
