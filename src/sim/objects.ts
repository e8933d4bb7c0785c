/**
 * The objects of a simulated LwM2M device: 0 Security, 1 Server, 3 Device, 4 Connectivity
 * Monitoring, 5 Firmware Update, 9 Software Management, 10 Cellular Connectivity, 3303
 * Temperature, 3323 Pressure, 3202 Analog Input, 3203 Analog Output. Object definitions come
 * from the shared OMA registry; a device holds only its values.
 */
import {
  AnalogInputObject,
  AnalogOutputObject,
  CellularConnectivityObject,
  ConnectivityMonitoringObject,
  DeviceObject,
  type ObjectEnabler,
  PressureObject,
  SecurityObject,
  type SensorInstance,
  ServerObject,
  SoftwareManagementObject,
  TemperatureObject,
} from '../lwm2m/client/index.js';
import type { InstanceEnabler } from '../lwm2m/client/object-enabler.js';
import { SimFirmwareObject, type SimFirmwareOptions } from './firmware.js';

export interface DeviceObjectsOptions {
  readonly index: number;
  readonly serverUri: string;
  readonly lifetime: number;
  readonly binding: string;
  readonly firmwareVersion: string;
  readonly firmware: Omit<SimFirmwareOptions, 'device'>;
  readonly onReboot: () => void;
}

/** The objects, and the instances the simulator drives. */
export interface DeviceObjects {
  readonly all: ObjectEnabler[];
  readonly device: DeviceObject['device'];
  readonly connectivity: InstanceEnabler;
  readonly temperature: SensorInstance;
  readonly pressure: SensorInstance;
  readonly analogInput: SensorInstance;
  readonly firmware: SimFirmwareObject['firmware'];
}

export function deviceObjects(o: DeviceObjectsOptions): DeviceObjects {
  const device = new DeviceObject({
    manufacturer: 'Tandem Simulator',
    modelNumber: 'sim-1',
    serialNumber: `SIM${String(o.index).padStart(6, '0')}`,
    firmwareVersion: o.firmwareVersion,
    binding: o.binding,
    deviceType: 'simulated sensor',
    onReboot: o.onReboot,
    onFactoryReset: o.onReboot,
  });
  const connectivity = new ConnectivityMonitoringObject({
    networkBearer: 6,
    availableBearers: [6, 7],
    ipAddresses: [`10.${(o.index >> 16) & 255}.${(o.index >> 8) & 255}.${o.index & 255}`],
  });
  const firmware = new SimFirmwareObject({ ...o.firmware, device: device.device });
  const temperature = new TemperatureObject([
    { value: 21, units: 'Cel', min: -40, max: 85, applicationType: 'room' },
  ]);
  const pressure = new PressureObject([{ value: 101_325, units: 'Pa', min: 87_000, max: 108_500 }]);
  const analogInput = new AnalogInputObject([{ value: 5, min: 0, max: 10, applicationType: 'V' }]);
  return {
    all: [
      new SecurityObject([{ serverUri: o.serverUri, shortServerId: 1 }]),
      new ServerObject([{ lifetime: o.lifetime, shortServerId: 1, binding: o.binding }]),
      device,
      connectivity,
      firmware,
      new SoftwareManagementObject([{ name: 'app', version: '1.0.0' }]),
      new CellularConnectivityObject(),
      temperature,
      pressure,
      analogInput,
      new AnalogOutputObject([{ value: 0, min: 0, max: 10 }]),
    ],
    device: device.device,
    connectivity: connectivity.connectivity,
    temperature: temperature.sensor(),
    pressure: pressure.sensor(),
    analogInput: analogInput.sensor(),
    firmware: firmware.firmware,
  };
}
