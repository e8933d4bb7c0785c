import { MemoryRegistrationStore } from '../../../src/lwm2m/server/index.js';
import { registrationStoreContract } from './registration-store-contract.js';

registrationStoreContract('memory', async () => ({ store: new MemoryRegistrationStore() }));
