/** Command-line flags with errors that name the flag and what was wrong, shared by every command. */
package org.dsparse.core.cli;
