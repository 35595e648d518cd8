// Run by bin/sluice.sh before it execs Node: prints how to start this command line, so the
// pipeline process can be the entrypoint's own process instead of a launcher's child
// (Node 20 cannot exec itself). Nothing printed: the command runs in-process (bin/sluice.js).
// Otherwise three lines: the budget in bytes, V8's flags for it, the script to run.
import { fileURLToPath } from 'node:url';
import { launchPlan, pipelineScript } from './launch.js';

const plan = launchPlan(process.argv.slice(2), process.env);
if (plan) {
  const script = pipelineScript(fileURLToPath(new URL('./sluice.js', import.meta.url)));
  process.stdout.write(`${plan.limit}\n${plan.flags.join(' ')}\n${script}\n`);
}
