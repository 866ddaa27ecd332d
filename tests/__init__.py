"""The test suite, a regular package so that `tests.*` imports find it before the `tests`
package that verl's wheel installs into site-packages."""
