import { SqliteStore } from '../../src/store/sqlite/index.js';
import { profileStoreContract } from './profile-store-contract.js';

profileStoreContract('sqlite (memory)', async () => new SqliteStore({ dataDir: ':memory:' }));
