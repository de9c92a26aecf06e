import { registerHybrid } from './hybrids/hybrid-registry';
import { mamHybrid } from './hybrids/mam';
import { s4Hybrid } from './hybrids/s4';
import { unipeltHybrid } from './hybrids/unipelt';

/** Registers the bench's hybrids (MAM, UniPELT, S4) into the default hybrid registry. */
registerHybrid(mamHybrid);
registerHybrid(unipeltHybrid);
registerHybrid(s4Hybrid);
