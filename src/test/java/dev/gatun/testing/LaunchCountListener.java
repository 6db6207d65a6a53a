package dev.gatun.testing;

import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestPlan;

/** Records this test JVM's kernel launch counts when its test plan ends. */
public final class LaunchCountListener implements TestExecutionListener {
    @Override
    public void testPlanExecutionFinished(TestPlan testPlan) {
        LaunchCounts.write();
    }
}
