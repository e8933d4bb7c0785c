import { MemoryPersistence } from '../../src/mqtt/persistence/memory.js';
import { persistenceContract } from './persistence-contract.js';

persistenceContract('memory', { create: () => new MemoryPersistence() });
