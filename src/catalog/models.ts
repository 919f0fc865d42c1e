// Built-in models per provider with limits, modalities and prices (USD per million tokens).
import type { CatalogModel } from './types.ts';

export const modelsByProvider: Record<string, readonly CatalogModel[]> = {};
