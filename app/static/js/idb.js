// The phone's IndexedDB stores (the outbox, a walked route's points) opened and used the same way: one
// database per store's owner, opened for each unit of work and closed after it, so a page never holds a
// connection an upgrade in another tab would wait for.

// A function that opens the database `name` at `version`, creating its stores with `upgrade(db)`.
export function opener(name, version, upgrade) {
  return () =>
    new Promise((resolve, reject) => {
      const request = indexedDB.open(name, version);
      request.onupgradeneeded = () => upgrade(request.result);
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
}

// Runs `work(objectStore)` in one transaction on `storeName`; resolves, once the transaction is complete,
// with the result of the request `work` returned (undefined when it returned none).
export async function inTransaction(open, storeName, mode, work) {
  const db = await open();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(storeName, mode);
      const request = work(tx.objectStore(storeName));
      tx.oncomplete = () => resolve(request && "result" in request ? request.result : undefined);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}
