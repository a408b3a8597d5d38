/** node-app: starts one device of a real cluster, submits jobs and shows their progress. */
package org.dsparse.node;
