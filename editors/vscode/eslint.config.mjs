// Lint rules for the Proofwright VS Code extension: eslint's and typescript-eslint's recommended sets.
import eslint from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["out/", "dist/", "node_modules/", "test/lean4-language-stand-in/"] },
  eslint.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      eqeqeq: "error",
      "no-console": "off",
      "@typescript-eslint/no-floating-promises": "off",
    },
  },
);
