// Types of eslint/layers.mjs, for test/layers.test.ts.
export declare const LAYERS: readonly (readonly string[])[];
export declare function layerOf(root: string, file: string): string | undefined;
export declare function rankOf(layer: string): number;
export declare function valueImports(text: string): string[];
export declare function resolveSpecifier(from: string, spec: string): string;
export declare function importGraph(root: string, dirs?: readonly string[]): Map<string, string[]>;
export declare function cycles(graph: ReadonlyMap<string, readonly string[]>): string[][];
export declare function directionProblem(root: string, file: string, target: string): string | undefined;
export declare function layersPlugin(root: string): import('eslint').ESLint.Plugin;
