// ESLint (flat config) for the browser code: `make lint` runs it. The modules have no build step, so what is
// linted is what the phone runs. eslint, @eslint/js and globals are pinned in package.json.
import js from "@eslint/js";
import globals from "globals";

// The service worker is a Jinja template (app/main/offline.py renders it with its cache version and the
// shell's URLs): each {{ … }} is read as a value of the same length, so lines and columns stay true.
const jinja = {
  meta: { name: "jinja-expressions" },
  processors: {
    js: {
      preprocess: (text) => [text.replace(/\{\{.*?\}\}/g, (expression) => "null".padEnd(expression.length))],
      postprocess: (messages) => messages.flat(),
      supportsAutofix: false,
    },
  },
};

export default [
  js.configs.recommended,
  {
    linterOptions: { reportUnusedDisableDirectives: "error" },
    rules: {
      eqeqeq: ["error", "always", { null: "ignore" }],
      "no-var": "error",
      "prefer-const": "error",
    },
  },
  {
    // ES modules loaded by <script type="module">; Leaflet's L comes from its own classic script.
    files: ["app/static/js/**/*.js"],
    languageOptions: {
      sourceType: "module",
      ecmaVersion: 2022,
      globals: { ...globals.browser, L: "readonly" },
    },
  },
  {
    // A classic script beside Swagger UI's bundle (the API docs page), written for any browser.
    files: ["app/static/js/api-docs.js"],
    languageOptions: { sourceType: "script" },
    rules: { "no-var": "off" },
  },
  {
    files: ["app/templates/offline/sw.js"],
    plugins: { jinja },
    processor: "jinja/js",
    languageOptions: { sourceType: "script", ecmaVersion: 2022, globals: { ...globals.serviceworker } },
  },
  {
    files: ["eslint.config.js"],
    languageOptions: { sourceType: "module", globals: { ...globals.node } },
  },
];
