import { dirname } from "node:path";
import { fileURLToPath } from "node:url";

/** @type {import('next').NextConfig} */
export default {
  poweredByHeader: false,
  // This folder is the app's root, whatever lies around it.
  turbopack: { root: dirname(fileURLToPath(import.meta.url)) },
};
