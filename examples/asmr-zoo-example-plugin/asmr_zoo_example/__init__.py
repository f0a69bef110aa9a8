"""An example asmr-zoo plugin package, written as a third party would write one."""
