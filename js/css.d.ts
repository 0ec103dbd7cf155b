// esbuild bundles `import "./x.css"` into static/<entry>.css; for the type checker it is a bare module.
declare module "*.css";
