#!/usr/bin/env node
// The CDK app (`cdk.json` at the repository root runs this with tsx).
import { buildApp } from '../lib/app';

buildApp();
