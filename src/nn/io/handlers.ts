// Where models are saved and loaded from, in TensorFlow.js's Layers format: model.json (the Keras
// topology and a weights manifest) plus the weights as one little-endian float32 binary. The
// handlers follow TF.js's IOHandler interface, so TF.js's own handlers (tf.io.*) work here too.

export interface WeightSpec {
  name: string;
  shape: number[];
  dtype: 'float32';
}

/** What a model is saved as: TF.js's ModelArtifacts. */
export interface ModelArtifacts {
  modelTopology: Record<string, unknown>;
  weightSpecs: WeightSpec[];
  weightData: ArrayBuffer | ArrayBuffer[];
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
}

export interface SaveResult {
  modelArtifactsInfo: { dateSaved: Date; modelTopologyType: 'JSON'; modelTopologyBytes: number; weightSpecsBytes: number; weightDataBytes: number };
}

/** TF.js's IOHandler: something that can save artifacts, load them, or both. */
export interface IOHandler {
  save?(artifacts: ModelArtifacts): Promise<SaveResult | unknown>;
  load?(): Promise<ModelArtifacts>;
}

interface ModelJson {
  format: string;
  generatedBy: string;
  convertedBy: string | null;
  modelTopology: Record<string, unknown>;
  weightsManifest: { paths: string[]; weights: WeightSpec[] }[];
}

/** The version written into generatedBy. */
export const version = '0.1.0';
const weightsFile = 'weights.bin';

export function concat(data: ArrayBuffer | ArrayBuffer[]): ArrayBuffer {
  if (!Array.isArray(data)) return data;
  const out = new Uint8Array(data.reduce((n, d) => n + d.byteLength, 0));
  let offset = 0;
  for (const d of data) {
    out.set(new Uint8Array(d), offset);
    offset += d.byteLength;
  }
  return out.buffer;
}

function modelJson(artifacts: ModelArtifacts, paths: string[]): ModelJson {
  return {
    format: artifacts.format ?? 'layers-model',
    generatedBy: artifacts.generatedBy ?? `shaderflow ${version}`,
    convertedBy: artifacts.convertedBy ?? null,
    modelTopology: artifacts.modelTopology,
    weightsManifest: [{ paths, weights: artifacts.weightSpecs }],
  };
}

function saveResult(artifacts: ModelArtifacts): SaveResult {
  return {
    modelArtifactsInfo: {
      dateSaved: new Date(),
      modelTopologyType: 'JSON',
      modelTopologyBytes: JSON.stringify(artifacts.modelTopology).length,
      weightSpecsBytes: JSON.stringify(artifacts.weightSpecs).length,
      weightDataBytes: concat(artifacts.weightData).byteLength,
    },
  };
}

/** Artifacts from a parsed model.json and a way to fetch the files its manifest names. */
async function fromModelJson(json: ModelJson, fetchFile: (path: string) => Promise<ArrayBuffer>, where: string): Promise<ModelArtifacts> {
  if (!json || typeof json !== 'object' || !json.modelTopology) throw new Error(`${where}: model.json has no modelTopology; is it a TF.js Layers model?`);
  const manifest = json.weightsManifest ?? [];
  const weightSpecs = manifest.flatMap((group) => group.weights);
  const weightData = await Promise.all(manifest.flatMap((group) => group.paths.map((p) => fetchFile(p))));
  return { modelTopology: json.modelTopology, weightSpecs, weightData: concat(weightData), format: json.format, generatedBy: json.generatedBy, convertedBy: json.convertedBy };
}

function parseJson(text: string, where: string): ModelJson {
  try {
    return JSON.parse(text) as ModelJson;
  } catch (error) {
    throw new Error(`${where}: model.json is not valid JSON (${(error as Error).message})`);
  }
}

/** file://DIR in Node: DIR/model.json and DIR/weights.bin. */
function fileHandler(url: string): IOHandler {
  const target = decodeURIComponent(url.slice('file://'.length));
  return {
    async save(artifacts) {
      const fs = await import('node:fs/promises');
      const path = await import('node:path');
      const dir = target.endsWith('.json') ? path.dirname(target) : target;
      // Each file is written under a temporary name, then renamed over the old one (atomic on one
      // file system), so a crash or a full disk mid-save leaves the last save whole, never half a
      // file. The weights go first: old JSON with new weights of the same model is still a model.
      const files: [string, string | Uint8Array][] = [
        [weightsFile, new Uint8Array(concat(artifacts.weightData))],
        [target.endsWith('.json') ? path.basename(target) : 'model.json', JSON.stringify(modelJson(artifacts, [weightsFile]))],
      ];
      const suffix = `.${Math.random().toString(36).slice(2, 10)}.partial`;
      try {
        await fs.mkdir(dir, { recursive: true });
        for (const [name, data] of files) await fs.writeFile(path.join(dir, name + suffix), data);
        for (const [name] of files) await fs.rename(path.join(dir, name + suffix), path.join(dir, name));
      } catch (error) {
        await Promise.all(files.map(([name]) => fs.rm(path.join(dir, name + suffix), { force: true }).catch(() => undefined)));
        throw new Error(`model.save('${url}'): writing ${dir} failed (${(error as Error).message}); an earlier save there is left as it was`);
      }
      return saveResult(artifacts);
    },
    async load() {
      const fs = await import('node:fs/promises');
      const path = await import('node:path');
      const file = target.endsWith('.json') ? target : path.join(target, 'model.json');
      const where = `sf.loadModel('${url}')`;
      const text = await fs.readFile(file, 'utf8').catch((error: Error) => {
        throw new Error(`${where}: cannot read ${file}: ${error.message}`);
      });
      return fromModelJson(parseJson(text, where), async (p) => {
        const bytes = await fs.readFile(path.join(path.dirname(file), p)).catch((error: Error) => {
          throw new Error(`${where}: cannot read the weights file ${p}: ${error.message}`);
        });
        return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
      }, where);
    },
  };
}

/** http(s)://…/model.json: fetched, with the weights files relative to it. */
function httpHandler(url: string): IOHandler {
  const where = `sf.loadModel('${url}')`;
  const get = async (u: string): Promise<Response> => {
    const response = await fetch(u).catch((error: Error) => {
      throw new Error(`${where}: fetching ${u} failed: ${error.message}`);
    });
    if (!response.ok) throw new Error(`${where}: fetching ${u} gave HTTP ${response.status} ${response.statusText}`);
    return response;
  };
  return {
    async load() {
      const json = parseJson(await (await get(url)).text(), where);
      return fromModelJson(json, async (p) => (await get(new URL(p, url).href)).arrayBuffer(), where);
    },
  };
}

/** downloads://NAME in a browser: NAME.json and NAME.weights.bin, as TF.js names them. */
function downloadsHandler(url: string): IOHandler {
  const name = url.slice('downloads://'.length) || 'model';
  return {
    async save(artifacts) {
      if (typeof document === 'undefined') throw new Error(`model.save('${url}'): downloads:// needs a browser page`);
      const weights = `${name}.weights.bin`;
      const files: [string, Blob][] = [
        [`${name}.json`, new Blob([JSON.stringify(modelJson(artifacts, [`./${weights}`]))], { type: 'application/json' })],
        [weights, new Blob([concat(artifacts.weightData)], { type: 'application/octet-stream' })],
      ];
      for (const [file, blob] of files) {
        const a = document.createElement('a');
        a.download = file;
        a.href = URL.createObjectURL(blob);
        a.click();
        setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
      }
      return saveResult(artifacts);
    },
  };
}

/** indexeddb://NAME in a browser, in TF.js's own database layout, so either library can load the other's. */
function indexedDbHandler(url: string): IOHandler {
  const modelPath = url.slice('indexeddb://'.length);
  const open = (): Promise<IDBDatabase> => new Promise((resolve, reject) => {
    if (typeof indexedDB === 'undefined') reject(new Error(`'${url}': indexeddb:// needs a browser with IndexedDB`));
    const request = indexedDB.open('tensorflowjs', 1);
    request.onupgradeneeded = () => {
      request.result.createObjectStore('models_store', { keyPath: 'modelPath' });
      request.result.createObjectStore('model_info_store', { keyPath: 'modelPath' });
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  const done = (tx: IDBTransaction): Promise<void> => new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
  });
  return {
    async save(artifacts) {
      const db = await open();
      const result = saveResult(artifacts);
      const tx = db.transaction(['models_store', 'model_info_store'], 'readwrite');
      tx.objectStore('model_info_store').put({ modelPath, modelArtifactsInfo: result.modelArtifactsInfo });
      tx.objectStore('models_store').put({ modelPath, modelArtifacts: { ...artifacts, weightData: concat(artifacts.weightData) } });
      await done(tx);
      db.close();
      return result;
    },
    async load() {
      const db = await open();
      const tx = db.transaction('models_store', 'readonly');
      const request = tx.objectStore('models_store').get(modelPath);
      const record = await new Promise<{ modelArtifacts: ModelArtifacts } | undefined>((resolve, reject) => {
        request.onsuccess = () => resolve(request.result as { modelArtifacts: ModelArtifacts } | undefined);
        request.onerror = () => reject(request.error);
      });
      db.close();
      if (!record) throw new Error(`sf.loadModel('${url}'): no model saved under '${modelPath}' in IndexedDB`);
      return record.modelArtifacts;
    },
  };
}

const schemes = ['file://', 'http://', 'https://', 'downloads://', 'indexeddb://'];

export function handlerFor(target: string | IOHandler, where: string): IOHandler {
  if (typeof target === 'object' && target !== null && ('save' in target || 'load' in target)) return target;
  if (typeof target !== 'string') throw new Error(`${where}: expected a URL string (${schemes.join(', ')}) or an IOHandler, got ${target === null ? 'null' : typeof target}`);
  if (target.startsWith('file://')) return fileHandler(target);
  if (target.startsWith('http://') || target.startsWith('https://')) return httpHandler(target);
  if (target.startsWith('downloads://')) return downloadsHandler(target);
  if (target.startsWith('indexeddb://')) return indexedDbHandler(target);
  throw new Error(`${where}: unknown scheme in '${target}'; expected one of ${schemes.join(', ')}`);
}
