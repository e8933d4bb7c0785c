/** The client's object enablers on their own (no network): behaviour and model rules. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Code } from '../../../src/coap/code.js';
import {
  AnalogOutputObject,
  AttributeStore,
  DeviceObject,
  FirmwareResult,
  FirmwareState,
  FirmwareUpdateObject,
  ObjectTree,
  parseAttributeQuery,
  SecurityObject,
  SoftwareManagementObject,
  SoftwareState,
  TemperatureObject,
} from '../../../src/lwm2m/client/index.js';
import type { ObjectEnabler } from '../../../src/lwm2m/client/object-enabler.js';
import { type Lwm2mSingleResource, singleResource } from '../../../src/lwm2m/node/lwm2m-node.js';
import { Lwm2mPath } from '../../../src/lwm2m/node/lwm2m-path.js';
import { Value } from '../../../src/lwm2m/node/lwm2m-value.js';
import { ManualClock } from '../../../src/util/clock.js';
import { settle } from '../server/helpers.js';

const path = Lwm2mPath.parse;
const tree = (...objects: ObjectEnabler[]) =>
  new ObjectTree(new Map(objects.map((o) => [o.id, o])));
const valueAt = (t: ObjectTree, p: string) =>
  (t.read(path(p)).value as Lwm2mSingleResource).value.value;

describe('client object tree rules (LwM2M-TS-Core 1.1 §6.3)', () => {
  test('hides the Security object from a Device Management server with 4.01 (LwM2M-TS-Core 1.1 Appendix E.1)', () => {
    const t = tree(new SecurityObject([{ serverUri: 'coap://x' }]));
    assert.equal(t.read(path('/0/0/0')).code, Code.Unauthorized);
  });

  test('answers 4.05 for a write-only resource and 4.04 for an absent optional one', () => {
    const t = tree(new FirmwareUpdateObject(), new DeviceObject());
    assert.equal(t.read(path('/5/0/0')).code, Code.MethodNotAllowed);
    assert.equal(t.read(path('/3/0/21')).code, Code.NotFound);
    assert.equal(t.read(path('/3/1')).code, Code.NotFound);
    assert.equal(t.read(path('/4')).code, Code.NotFound);
  });

  test('reads an instance without its executable and write-only resources', () => {
    const t = tree(new FirmwareUpdateObject());
    const inst = t.read(path('/5/0')).value;
    assert.equal(inst?.kind, 'object-instance');
    const ids = [...(inst as unknown as { resources: Map<number, unknown> }).resources.keys()];
    assert.deepEqual(ids, [1, 3, 5, 9]);
  });
});

describe('client objects (LwM2M-TS-Core 1.1 Appendix E, OMA objects)', () => {
  test('Firmware Update pulls a package from its URI and installs it (Appendix E.6)', async () => {
    const fw = new FirmwareUpdateObject({ download: async (uri) => Buffer.from(`image of ${uri}`) })
      .firmware;
    assert.equal(fw.write(singleResource(1, Value.string('coap://fw/1.2'))), Code.Changed);
    assert.equal(fw.state, FirmwareState.Downloading);
    await settle();
    assert.equal(fw.state, FirmwareState.Downloaded);
    assert.equal(fw.execute(2, new Map()), Code.Changed);
    assert.equal(fw.state, FirmwareState.Updating);
    await settle();
    assert.equal(fw.state, FirmwareState.Idle);
    assert.equal(fw.result, FirmwareResult.Success);
  });

  test('Firmware Update reports a failed download as Connection Lost, and an empty URI resets (Appendix E.6)', async () => {
    const fw = new FirmwareUpdateObject({
      download: async () => {
        throw new Error('unreachable');
      },
    }).firmware;
    fw.write(singleResource(1, Value.string('coap://fw/bad')));
    await settle();
    assert.equal(fw.state, FirmwareState.Idle);
    assert.equal(fw.result, FirmwareResult.ConnectionLost);
    assert.equal(fw.write(singleResource(1, Value.string(''))), Code.Changed);
    assert.equal(fw.result, FirmwareResult.Initial);
    assert.equal(fw.execute(2, new Map()), Code.MethodNotAllowed);
  });

  test('Software Management installs, activates and uninstalls (OMA object 9)', () => {
    const sw = new SoftwareManagementObject().newInstance(0)!;
    const pkg = sw as unknown as { state: number };
    assert.equal(sw.execute(4, new Map()), Code.MethodNotAllowed);
    assert.equal(sw.write(singleResource(2, Value.opaque(Buffer.from('pkg')))), Code.Changed);
    assert.equal(pkg.state, SoftwareState.Delivered);
    assert.equal(sw.execute(4, new Map()), Code.Changed);
    assert.equal(pkg.state, SoftwareState.Installed);
    assert.equal(sw.execute(10, new Map()), Code.Changed);
    assert.equal((sw.get(12) as { value: boolean }).value, true);
    assert.equal(sw.execute(6, new Map([[1, undefined]])), Code.Changed);
    assert.equal(pkg.state, SoftwareState.Installed, 'argument 1 prepares for an update');
    assert.equal(sw.execute(6, new Map()), Code.Changed);
    assert.equal(pkg.state, SoftwareState.Initial);
  });

  test('sensors keep their measured minimum and maximum and reset them on 5605 (IPSO 3303)', () => {
    const temperature = new TemperatureObject([{ value: 20 }]);
    const t = tree(temperature);
    const sensor = temperature.sensor(0);
    sensor.measure(25);
    sensor.measure(15);
    assert.equal(valueAt(t, '/3303/0/5601'), 15);
    assert.equal(valueAt(t, '/3303/0/5602'), 25);
    assert.equal(sensor.execute(5605, new Map()), Code.Changed);
    assert.equal(valueAt(t, '/3303/0/5601'), 15);
    assert.equal(valueAt(t, '/3303/0/5602'), 15);
  });

  test('Analog Output refuses a value outside its range with 4.00 (OMA object 3203)', () => {
    const out = new AnalogOutputObject([{ value: 1, min: 0, max: 10 }]).instances.get(0)!;
    assert.equal(out.write(singleResource(5650, Value.float(11))), Code.BadRequest);
    assert.equal(out.write(singleResource(5650, Value.float(9))), Code.Changed);
  });

  test('Device keeps the time written by the server on its own clock and resets error codes (Appendix E.4)', () => {
    const clock = new ManualClock(1_700_000_000_000);
    const device = new DeviceObject({ clock });
    const t = tree(device);
    assert.equal(device.device.write(singleResource(13, Value.time(1_800_000_000))), Code.Changed);
    clock.advance(10_000);
    assert.equal(((valueAt(t, '/3/0/13') as Date).getTime() / 1000) | 0, 1_800_000_010);
    device.device.reportError(2);
    assert.deepEqual(
      [...(device.device.get(11) as unknown as Map<number, { value: number }>).values()].map(
        (v) => v.value,
      ),
      [2],
    );
    assert.equal(device.device.execute(12, new Map()), Code.Changed);
    assert.deepEqual(
      [...(device.device.get(11) as unknown as Map<number, { value: number }>).values()].map(
        (v) => v.value,
      ),
      [0],
    );
  });
});

describe('attributes on the client (LwM2M-TS-Core 1.1 §5.1.1, §5.1.2)', () => {
  test('parses a query, an attribute without value removing it', () => {
    assert.deepEqual(parseAttributeQuery(['pmin=5', 'gt=20.5', 'st'], '1.1'), {
      pmin: 5,
      gt: 20.5,
      st: null,
    });
    assert.match(String(parseAttributeQuery(['hqmax=2'], '1.1')), /not an LwM2M 1.1 attribute/);
    assert.deepEqual(parseAttributeQuery(['hqmax=2', 'edge=1', 'con=0'], '1.2'), {
      hqmax: 2,
      edge: 1,
      con: 0,
    });
    assert.match(String(parseAttributeQuery(['pmin=-1'], '1.1')), /non-negative/);
  });

  test('the lowest level wins, gt/lt/st only from the observed resource itself', () => {
    const store = new AttributeStore();
    assert.equal(store.apply(path('/3303'), { pmin: 10, pmax: 100 }), undefined);
    assert.equal(store.apply(path('/3303/0'), { pmin: 5 }), undefined);
    assert.equal(store.apply(path('/3303/0/5700'), { gt: 30 }), undefined);
    assert.deepEqual(store.effective(path('/3303/0/5700'), { pmax: 60 }), {
      pmin: 5,
      pmax: 100,
      gt: 30,
    });
    assert.deepEqual(store.effective(path('/3303/0'), {}), { pmin: 5, pmax: 100 });
    assert.equal(store.apply(path('/3303/0'), { gt: 1 }), 'gt, lt and st attach to resources only');
  });
});
