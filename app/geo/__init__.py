"""Coordinates: conversion of Chinese map datums to WGS-84, and distances."""
