// The compiled addon; see src/kernel_splice.c.
module.exports = require("./build/Release/kernel_splice.node");
