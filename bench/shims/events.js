// Minimal browser stand-in for Node's `events` module, aliased in vite.config.js because
// pouchdb-browser imports `events` and the package isn't installed. Methods are assigned to the
// prototype (enumerable, as in Node) since PouchDB copies them with Object.keys(EE.prototype).
export default function EventEmitter() {
  this._events = new Map();
}

function list(ee, type) {
  if (!ee._events) ee._events = new Map();
  let l = ee._events.get(type);
  if (!l) ee._events.set(type, (l = []));
  return l;
}

EventEmitter.prototype.on = function (type, fn) {
  list(this, type).push(fn);
  return this;
};
EventEmitter.prototype.addListener = EventEmitter.prototype.on;
EventEmitter.prototype.prependListener = function (type, fn) {
  list(this, type).unshift(fn);
  return this;
};
EventEmitter.prototype.once = function (type, fn) {
  const self = this;
  function wrapper(...args) {
    self.removeListener(type, wrapper);
    return fn.apply(self, args);
  }
  wrapper.listener = fn;
  return this.on(type, wrapper);
};
EventEmitter.prototype.removeListener = function (type, fn) {
  const l = list(this, type);
  const i = l.findIndex((f) => f === fn || f.listener === fn);
  if (i >= 0) l.splice(i, 1);
  return this;
};
EventEmitter.prototype.off = EventEmitter.prototype.removeListener;
EventEmitter.prototype.removeAllListeners = function (type) {
  if (!this._events) return this;
  if (type === undefined) this._events.clear();
  else this._events.delete(type);
  return this;
};
EventEmitter.prototype.emit = function (type, ...args) {
  const l = list(this, type).slice();
  if (type === "error" && l.length === 0) throw args[0] instanceof Error ? args[0] : new Error(String(args[0]));
  for (const fn of l) fn.apply(this, args);
  return l.length > 0;
};
EventEmitter.prototype.listeners = function (type) {
  return list(this, type).map((f) => f.listener ?? f);
};
EventEmitter.prototype.listenerCount = function (type) {
  return list(this, type).length;
};
EventEmitter.prototype.setMaxListeners = function () {
  return this;
};
EventEmitter.listenerCount = (ee, type) => ee.listenerCount(type);
EventEmitter.EventEmitter = EventEmitter;
export { EventEmitter };
