import { SqliteStore } from '../../src/store/sqlite/index.js';
import { commandStoreContract } from './command-store-contract.js';

commandStoreContract('sqlite (memory)', async () => new SqliteStore({ dataDir: ':memory:' }));
