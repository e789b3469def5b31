import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findDag, loadDags } from '../../src/dag/index.ts';
import { tempDir } from '../helpers/stores.ts';

const defineDagUrl = new URL('../../src/dag/index.ts', import.meta.url).pathname;

function dagFile(id: string, tasks: string): string {
  return `import { defineDag } from '${defineDagUrl}';
export default defineDag({ id: '${id}', description: 'test', tasks: [${tasks}] });
`;
}

describe('loadDags', () => {
  const dir = tempDir('nightshift-dags-');
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(
    path.join(dir, 'good.ts'),
    dagFile('good', `{ id: 'a', run: () => 1 }, { id: 'b', deps: ['a'], run: () => 2 }`),
  );
  fs.writeFileSync(
    path.join(dir, 'cyclic.ts'),
    dagFile('cyclic', `{ id: 'a', deps: ['b'], run: () => 1 }, { id: 'b', deps: ['a'], run: () => 2 }`),
  );
  fs.writeFileSync(path.join(dir, 'broken.ts'), 'export default defineDag({ id: "broken", tasks: [ });\n');
  fs.writeFileSync(path.join(dir, 'misnamed.ts'), dagFile('other-name', `{ id: 'a', run: () => 1 }`));
  fs.writeFileSync(path.join(dir, 'plain.ts'), 'export default { id: "plain" };\n');

  it('loads the valid files and reports every broken one by file name', async () => {
    const { dags, errors } = await loadDags(dir);
    expect(dags.map((dag) => dag.id)).toEqual(['good']);
    const byFile = Object.fromEntries(errors.map((error) => [path.basename(error.file), error.message]));
    expect(Object.keys(byFile).sort()).toEqual(['broken.ts', 'cyclic.ts', 'misnamed.ts', 'plain.ts']);
    expect(byFile['cyclic.ts']).toMatch(/cyclic\.ts: .*DAG 'cyclic' has a cycle: (a -> b -> a|b -> a -> b)/);
    expect(byFile['broken.ts']).toMatch(/broken\.ts: .*(Unexpected|Expected|error)/i);
    expect(byFile['misnamed.ts']).toContain(
      "declares DAG id 'other-name' but DAG files are named after their id",
    );
    expect(byFile['plain.ts']).toContain('expected `export default defineDag({...})`');
  });

  it('finds one DAG by its file name, and nothing for an unknown id', async () => {
    expect((await findDag(dir, 'good'))?.tasks.map((task) => task.id)).toEqual(['a', 'b']);
    expect(await findDag(dir, 'nope')).toBeUndefined();
  });
});
