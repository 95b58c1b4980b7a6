// pier sample app: Node.js with express (from the npm registry)
const express = require("express");

const app = express();
const port = Number(process.env.PORT);

app.get("/", (req, res) => {
  res.type("text/plain").send(
    "pier sample app: nodejs\n" +
      `express ${require("express/package.json").version}\n` +
      `greeting: ${process.env.GREETING || "none"}\n` +
      `node_env: ${process.env.NODE_ENV || "unset"}\n`
  );
});

app.listen(port, "0.0.0.0", () => {
  console.log(`nodejs sample listening on port ${port}`);
});
