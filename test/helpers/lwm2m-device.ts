import type { TestContext } from 'node:test';
import { CoapEndpoint } from '../../src/coap/endpoint.js';
import { UdpTransport, udpPeer } from '../../src/coap/udp-transport.js';
import {
  DeviceObject,
  Lwm2mClient,
  SecurityObject,
  type SensorInstance,
  ServerObject,
  TemperatureObject,
} from '../../src/lwm2m/client/index.js';
import type { Tandem } from '../../src/server/tandem.js';

/**
 * Our LwM2M client over UDP to a started Tandem (Device and Temperature objects), not yet
 * registered, closed when the test ends. `onReboot` is called when /3/0/4 is executed.
 */
export async function lwm2mDevice(
  t: TestContext,
  tandem: Tandem,
  name: string,
  options: { onReboot?: () => void } = {},
) {
  const transport = await UdpTransport.bind({ address: '127.0.0.1', port: 0 });
  const endpoint = new CoapEndpoint(transport);
  const port = tandem.address('coap')!.port;
  const device = new Lwm2mClient({
    endpoint,
    server: udpPeer('127.0.0.1', port),
    name,
    objects: [
      new SecurityObject([{ serverUri: `coap://127.0.0.1:${port}`, shortServerId: 1 }]),
      new ServerObject([{ lifetime: 300, shortServerId: 1 }]),
      new DeviceObject({
        manufacturer: 'Tandem Labs',
        serialNumber: 'SN-7',
        ...(options.onReboot ? { onReboot: options.onReboot } : {}),
      }),
      new TemperatureObject(),
    ],
  });
  t.after(async () => {
    device.close();
    await endpoint.close();
  });
  // `coap`: the device's CoAP endpoint; closing it makes the device go silent.
  return Object.assign(device, { coap: endpoint });
}

/** The device's temperature sensor (/3303/0). */
export const temperatureSensor = (device: Lwm2mClient) =>
  device.objects.get(3303)!.instances.get(0) as SensorInstance;
