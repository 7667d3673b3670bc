/**
 * The Express major the HTTP tests build their apps with: 5 (our devDependency)
 * by default, 4 (the `express4` alias) with TEST_EXPRESS=4, so that the same
 * tests show Consentgate works in hosts on either. Alone, TEST_EXPRESS=4 mounts
 * Consentgate's routers (built with our Express 5) in Express 4 apps; preloading
 * test/support/express-major.ts as well (as CI does) makes them Express 4 too.
 */
import express5 from "express";
import express4 from "express4";

export const expressMajor: 4 | 5 = process.env.TEST_EXPRESS === "4" ? 4 : 5;

// Express 4's API is the subset these tests use; its types are Express 5's.
export const express = expressMajor === 4 ? (express4 as unknown as typeof express5) : express5;
